// The part of the OpenTelemetry metrics API this library uses, as plain structural types: the
// public types stay valid for apps that do not install `@opentelemetry/api` (an optional peer).
export type MetricAttributes = Record<string, string | number | boolean>;

export interface MetricOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

export interface HistogramLike {
  record(value: number, attributes?: MetricAttributes): void;
}

export interface ObservableResultLike {
  observe(value: number, attributes?: MetricAttributes): void;
}

export type ObservableCallbackLike = (result: ObservableResultLike) => void;

export interface ObservableLike {
  addCallback(callback: ObservableCallbackLike): void;
  removeCallback(callback: ObservableCallbackLike): void;
}

export interface MeterLike {
  createHistogram(name: string, options?: MetricOptions): HistogramLike;
  createObservableCounter(name: string, options?: MetricOptions): ObservableLike;
  createObservableGauge(name: string, options?: MetricOptions): ObservableLike;
}

/** An OpenTelemetry `MeterProvider` (e.g. the SDK's), or anything with the same `getMeter`. */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): MeterLike;
}
