"""The public listener (社会端): the pages parents' representatives and diners open, on a port of
its own, apart from the staff console (none of the console's routes exist here)."""
