"""The on-call roster: shifts read from CSV or iCalendar files, and who is on call at a moment.

`model` holds the value objects, `times` the strict reading of local times, `staff` who may be
rostered, `csv_source` and `ics_source` turn one file into shifts, `importer` applies a file's
shifts to its window, and `queries` answers who is on call and which shifts are stored.
"""
