"""The studio app: a Gradio page (``nst_studio.ui``) over the web layer (``nst_studio.web``: limits,
jobs, forms, streams; no Gradio), both over the ``nst_core`` library."""
