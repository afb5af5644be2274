// Replaced by the offline cache tests.
