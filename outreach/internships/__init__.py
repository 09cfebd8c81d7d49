"""Internship placements: offers, class periods, pupils and wishes, rounds of allocation."""
