"""Ratings of delivered services: invitations opened by completed bookings, one rating per booking."""
