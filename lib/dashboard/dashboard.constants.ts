// Injection tokens of the live cluster page (its options are resolved once, in forRoot(), and
// injected into the monitor under this token).

/** Token of the `ResolvedDashboardOptions`. */
export const DASHBOARD_OPTIONS = Symbol('DASHBOARD_OPTIONS');
