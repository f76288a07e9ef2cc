"""The parts of the live alpha dashboard, split by what each does.

* :mod:`.record`   - the record of a search's events (alpha records, epoch ends) and its replay;
* :mod:`.control`  - the background run: start, pause, stop, resume, wait;
* :mod:`.figure`   - the figure and its controls: throttled redraws, traces, the static figure;
* :mod:`.live`     - the live widget (one plotly FigureWidget and the ipywidgets controls);
* :mod:`.headless` - whether a widget front end is there at all.

:class:`gibbsnas_lite.course.widgets.AlphaDashboard` puts them together (one class made of the
three mixins ``EventRecord``, ``RunControl`` and ``DashboardView``); import it from there.
"""
