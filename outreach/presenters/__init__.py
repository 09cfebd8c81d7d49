"""Firms presenting at schools' parents' evenings: invitations and answers."""
