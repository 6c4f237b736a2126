"""Puts ml/ on sys.path (the scripts import `recommender` and each other as top-level modules)."""
import os
import sys

ML = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(ML)
if ML not in sys.path:
    sys.path.insert(0, ML)
