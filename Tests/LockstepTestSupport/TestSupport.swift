/// Helpers for tests: free ports, throwaway servers. Never linked into the product.
public enum TestSupport {}
