"""Domain operations: functions taking a DB session, raising StudioError; no HTTP here.

They flush but never commit: the API router that calls them owns the transaction.
"""
