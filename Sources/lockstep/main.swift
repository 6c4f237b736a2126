import LockstepCLI

await LockstepCommand.main()
