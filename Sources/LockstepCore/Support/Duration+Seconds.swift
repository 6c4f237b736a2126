extension Duration {
    /// The duration in seconds, as a floating-point number (for timeouts handed to C and Foundation).
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
