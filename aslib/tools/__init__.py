"""Tools around the notebooks: :mod:`~aslib.tools.report` (execute every notebook and write the report),
:mod:`~aslib.tools.book` (the rendered book) and :mod:`~aslib.tools.handouts` (student and nbgrader versions). The
command line that drives them is :mod:`aslib.cli`.
"""
