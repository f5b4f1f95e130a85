"""The Gradio page of the style transfer studio, one module per part: :mod:`.controls` (the
settings form, generated from the settings' descriptions), :mod:`.panel` (images, masks and
the form), one module per tab (:mod:`.stylize_tab`, :mod:`.compare_tab`, :mod:`.explore_tab`)
and :mod:`.api` (the named ``/stylize`` endpoint). ``app.py`` assembles them."""
