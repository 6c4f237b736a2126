import LockstepCLI

await runLockstep()
