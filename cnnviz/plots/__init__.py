"""Every Plotly figure of the app. Functions take plain data (numpy arrays, step dataclasses)
and return figures; they compute nothing that a page shows as a number.

``figure`` holds the building blocks (figures as plain dicts, subplot grids, colour scales,
value ranges, the number format, still pictures); ``steps`` the step-throughs, ``maps`` the
pictures of a network's maps, filters and heat maps, ``charts`` the line and bar charts. The
public names are re-exported by ``cnnviz``.
"""
