"""Intelligent marketing: whom to contact, what it costs and earns, and how to measure it.

``targeting`` chooses the customers that maximise expected profit under a budget or a
capacity; ``curves`` evaluates a ranking on labelled data (gains, lift, profit);
``uplift_metrics`` measures uplift rankings (Qini, AUUC, ATE); ``charts`` draws them;
``campaign`` scores a customer file through the data plane and writes the selection.
"""
