"""The parts of the live alpha dashboard, split by what each does.

* :mod:`.record`   - the record of a search's events (alpha records, epoch ends), its snapshot and
  the replay of a history (``DashboardRecord``; no plotly, no threads);
* :mod:`.runner`   - the background run: start, pause, stop, resume, wait (``SearchRunner``; it
  tells the rest of the dashboard what changed through ``RunHooks``);
* :mod:`.view`     - what to draw from a record and when: throttled redraws, traces, the static
  figure (``DashboardView``);
* :mod:`.live`     - the live widget (one plotly FigureWidget and the ipywidgets controls);
* :mod:`.headless` - whether a widget front end is there at all.

:class:`gibbsnas_lite.course.widgets.AlphaDashboard` assembles them (one record, one runner, one
view and the lock they share) and keeps the public API; import it from there.
"""
