print("lockstep-bench: no benchmarks yet")
