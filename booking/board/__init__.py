"""The planning board: every room's day as bars (/board, /api/board); kept boards in booking/memo/board.py."""
