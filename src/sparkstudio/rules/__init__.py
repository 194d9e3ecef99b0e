"""Pure decisions: what a request may name, set or reach.

Modules here take values and return verdicts (or raise ``Invalid``); they touch no
database and start no process, so every rule can be tested on its own, exhaustively.
"""
