/// The tasks' real work: operators behind one protocol.
public enum LockstepOperators {}
