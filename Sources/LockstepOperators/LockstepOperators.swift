/// The tasks' real work: operators behind one protocol (`TaskOperator`), found by name in `OperatorRegistry`.
public enum LockstepOperators {}
