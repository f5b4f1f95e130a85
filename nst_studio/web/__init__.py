"""What the web app runs that is not UI, one module per job (none imports gradio):

- :mod:`.limits`: what one server accepts (steps, size, styles, queue, uploads), from NST_* env;
- :mod:`.jobs`: the device locks, stop tokens and job registry of this process (:data:`JOBS`);
- :mod:`.forms`: form values <-> :class:`~nst_core.settings.Settings`, generated from the
  settings' field metadata, validated here once;
- :mod:`.inputs`: uploaded images, blend weights and masks, read once per job;
- :mod:`.explore`: the Explore tab's modes, the settings it can vary, and a sweep's checked plan;
- :mod:`.files`: where result files go and what Stop keeps;
- :mod:`.streams`: jobs streamed as update records for the Stylize, Compare and Explore tabs;
- :mod:`.links`: the form, example images and tab as URL query parameters, and back;
- :mod:`.gallery`: the session gallery of a visit's finished and stopped runs.

Problems with user input raise ValueError with a message meant to be shown as it is.
"""
