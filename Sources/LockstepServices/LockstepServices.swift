/// The running components: scheduler, coordinator, workers, notifier.
public enum LockstepServices {}
