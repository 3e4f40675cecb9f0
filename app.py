"""storygen dashboard entry: streamlit run app.py"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from storygen import InvalidRequestError, RunFailedError, ScriptRequest, SimulatedBackend, generate
from storygen.models import STRATEGIES

st.set_page_config(page_title="storygen", layout="wide")
st.title("storygen")
st.caption("Write the script of a long AI video, scenes in parallel, with the simulated LLM.")

idea = st.text_area("Idea", "A lighthouse keeper finds a map to a drowned city")
duration = st.number_input("Duration (s)", min_value=8, max_value=7200, value=120, step=8)
strategy = st.selectbox("Strategy", STRATEGIES, index=1)
concurrency = st.slider("Batch size / window", 1, 100, 5)

if st.button("Generate", type="primary"):
    try:
        request = ScriptRequest.build(
            idea=idea, duration_s=duration, strategy=strategy, concurrency=concurrency
        )
    except InvalidRequestError as exc:
        st.error(str(exc))
    else:
        try:
            script = generate(request, SimulatedBackend(time_scale=0.01))
        except RunFailedError as exc:
            st.error(str(exc))
        else:
            st.success(f"{len(script.scenes)} scenes in {script.meta.wall_time_s:.2f} s")
            st.dataframe(
                pd.DataFrame(
                    [s.model_dump(include={"index", "title", "summary"}) for s in script.scenes]
                )
            )
