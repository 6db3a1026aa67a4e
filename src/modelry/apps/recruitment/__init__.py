"""Intelligent recruitment: candidates matched to jobs with reasons, and every shortlist logged.

``skills`` finds skills from the shipped vocabulary (``skills.txt``, modelry's own list);
``encoding`` embeds through a registered text encoder; ``lexical`` is BM25 (``bm25s``);
``index`` builds and reads a candidate index; ``matching`` ranks candidates for a job;
``decisions`` is the tamper-evident decision log; ``shortlist`` matches and logs.
"""
