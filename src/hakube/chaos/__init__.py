"""Fault injection support: the linearizability checker and the audits of a chaos run."""
