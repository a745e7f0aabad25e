// The sample's OpenTelemetry SDK: a MeterProvider whose one reader is the Prometheus exporter,
// handed to DiscoveryModule as `meterProvider`; GET /metrics serves what it collects.
import { Controller, Get, Req, Res } from '@nestjs/common';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SampleConfig } from './config.js';

export class SampleMetrics {
  /** Pull-based: nothing is exported until GET /metrics asks, so there is nothing to flush. */
  readonly exporter = new PrometheusExporter({ preventServerStart: true });
  readonly meterProvider: MeterProvider;

  constructor(config: Pick<SampleConfig, 'serviceName' | 'nodeId'>) {
    this.meterProvider = new MeterProvider({
      // Who is reporting, as OpenTelemetry's resource conventions name it (`target_info`).
      resource: resourceFromAttributes({
        'service.name': config.serviceName,
        'service.instance.id': config.nodeId,
      }),
      readers: [this.exporter],
    });
  }
}

/** `GET /metrics`: the Prometheus text format, scraped by Prometheus or read by `npm run demo`. */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: SampleMetrics) {}

  @Get('metrics')
  scrape(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    this.metrics.exporter.getMetricsRequestHandler(request, response);
  }
}
