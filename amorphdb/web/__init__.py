"""A read-only web explorer and JSON API over an amorphdb database (``amorphdb serve``; extra ``web``).

:func:`amorphdb.web.app.create_app` builds the FastAPI application over one database; the JSON routes are in
:mod:`.api`, the HTML pages in :mod:`.pages`, the Plotly figures in :mod:`.figures`, and both routes and pages
call the read-only queries of :mod:`.data`. See docs/web.md.
"""
