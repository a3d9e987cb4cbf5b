"""Every figure Greendoor draws: pure factories (frame in, ``plotly.graph_objects.Figure``
out, no queries), one module per page area, styled by :mod:`greendoor.charts.theme`."""
