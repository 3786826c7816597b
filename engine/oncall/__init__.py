"""The on-call roster: shifts read from CSV or iCalendar files, and who is on call at a moment.

`model` holds the value objects; `times` reads local times strictly and places times that a DST
change skips or repeats; `staff` says who may be rostered. `csv_source` and `ical_source` turn
one file into shifts (`ical_staff` finds a VEVENT's staff member, `ical_rules` bounds an RRULE
before expansion); `importer` applies each file's shifts to its window; `queries` answers who is
on call, who coordinates, and which shifts are stored.
"""
