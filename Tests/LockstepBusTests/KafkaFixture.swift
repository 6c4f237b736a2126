// Placeholder: the Kafka fixture (a Tansu broker on a free port + KafkaBus) replaces this file.
