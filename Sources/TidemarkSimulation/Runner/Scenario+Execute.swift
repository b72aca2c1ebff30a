extension Scenario {
    /// One seed of this scenario as a campaign runs it: a random run, or, when the scenario asks
    /// for `exploration`, the same run with every enumerated crash state checked at each
    /// persistence point (a failing result pins the crash state that broke it).
    public func execute(seed: UInt64) -> RunResult {
        if let exploration { return Exploration.explore(self, seed: seed, settings: exploration).result }
        return SimulationRun(scenario: self, seed: seed).execute()
    }
}
