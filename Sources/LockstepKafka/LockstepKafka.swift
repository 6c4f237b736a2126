/// Kafka implementation of `EventBus` on librdkafka (see KafkaBus.swift).
public enum LockstepKafka {}
