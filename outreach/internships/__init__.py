"""Internship placements (issue 20): offers in periods, pupils' ranked wishes, rounds.

`allocation` is the pure allocation of a round (no database): rank-maximal, exact, with a
seeded lottery for ties, and a reason for every pupil's result.
"""
