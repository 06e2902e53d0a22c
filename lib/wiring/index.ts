/**
 * The composition roots, for tools and tests that build both sinks. Handlers import
 * ./lake or ./search directly so each bundle carries only its own sink.
 */
export { createLakeSink, createLakeSinkDeps, lakeSinkOptions, lakeSinkProvider } from './lake';
export { createSearchClient, createSearchSink, searchSinkProvider } from './search';
export { createTripTransform } from './transform';
