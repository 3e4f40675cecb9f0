"""storygen dashboard: streamlit run app.py

Pages are in pages/ (Generate, Compare, Runs, Bulk); the page config, the navigation and the
backend sidebar all pages share are in ui/shell.py, which every page can also start by itself.
"""

from __future__ import annotations

from ui.shell import main

main()
