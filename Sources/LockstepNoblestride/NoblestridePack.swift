import Foundation
import LockstepCore
import LockstepOperators

extension OperatorPack {
    /// The Noblestride recommender's domain operators (the seed's training and integration steps):
    /// load with `packs: [noblestride]` in lockstep.yaml.
    public static let noblestride = OperatorPack(
        name: "noblestride",
        operators: [
            "preprocess": PreprocessOperator(),
            "train_model": TrainModelOperator(),
            "notify_training_complete": NotifyTrainingCompleteOperator(),
            "sync_fastapi": SyncFastAPIOperator(),
            "integration_report": IntegrationReportOperator(),
        ],
        // The seed's Airflow variables, on localhost instead of `host.docker.internal`, and where the
        // trainer lives: used when neither the config file nor LOCKSTEP_VAR_* sets them.
        variableDefaults: [
            "FASTAPI_BASE_URL": "http://localhost:8010",
            "NODEJS_BASE_URL": "http://localhost:3030",
            // `ml/` of the directory Lockstep starts in (a checkout of this repository), absolute
            // because a command runs in an attempt directory of its own.
            "ML_DIR": URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("ml").path,
        ],
        // The training-complete POST is a notification: the notifier runs it and dead-letters a give-up.
        defaultQueues: ["notify_training_complete": .notifications])
}
