"""Streamlit helpers shared by the pages: widgets in, storygen calls, rendering out.

storygen itself never imports Streamlit; everything Streamlit-specific lives here or in pages/.
"""
