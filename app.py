"""Neural style transfer studio: the Gradio app (the Hugging Face Space's ``app_file``).

The app is :mod:`nst_studio.app`; this file lets ``python app.py`` and a Space start it from the
repository root.

    python app.py [--host 0.0.0.0] [--port 7860] [--share]
"""
try:  # ZeroGPU's `spaces` first, before any module of ours or torch.cuda (nst_studio.app says why)
    import spaces  # noqa: F401
except ImportError:
    pass

from nst_studio.app import build_demo, launch_kwargs, main  # noqa: F401  (what a Space and tests use)

if __name__ == "__main__":
    main()
