"""itineraries feature: a class day at several firms, planned and booked all or nothing."""
