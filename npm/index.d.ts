// Types of the `tinygpt` npm package. Implementation: src/tinygpt.js.

/** Sampling settings; each has the meaning and default of the `tinygpt generate` flag of the same name. */
export interface SamplerOptions {
  /** Softmax temperature, finite and >= 0; 0 = greedy (argmax). Default 0.8. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 = off. Default 0. */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens until their mass reaches p; in (0, 1], 1 = off. Default 0.9. */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one; in [0, 1), 0 = off. Default 0. */
  minP?: number;
  /** Repetition penalty for recent tokens, > 0; 1 = off. Default 1. */
  repeatPenalty?: number;
}

export interface GenerateOptions extends SamplerOptions {
  /** New tokens to generate at most (>= 0). Default 128. */
  maxTokens?: number;
  /** Seed of the sampler's random numbers: an integer 0..2^53-1, or a BigInt up to 2^64-1. Default 42. */
  seed?: number | bigint;
  /** Stop string(s): generation ends before the first occurrence (1 to 64 bytes each, at most 8). */
  stop?: string | string[];
  /** Aborting it stops generation after the current token (stopReason "cancelled"). */
  signal?: AbortSignal;
  /** With n > 0, `onToken`'s second argument carries the n most likely candidates the token was drawn from. */
  candidates?: number;
}

export interface DistributionOptions extends SamplerOptions {
  /** How many candidates to return (most likely first). Default 20. */
  top?: number;
}

/** Why generation stopped. */
export type StopReason = 'max_tokens' | 'eos' | 'stop' | 'context_full' | 'cancelled';

export interface GenerateResult {
  /** The generated text (without the prompt; a stop string and what follows it are cut). */
  text: string;
  /** The generated token ids (the prompt's are not included; an EOS is not included). */
  tokens: number[];
  stopReason: StopReason;
}

export interface Candidate {
  id: number;
  /** The token's text. */
  text: string;
  /** Probability under the model (repetition penalty applied, temperature 1, no filter). */
  prob: number;
  /** Probability sampling draws it with after temperature, top-k, top-p and min-p; 0 = filtered out. */
  keptProb: number;
}

/** The second argument of `onToken`. */
export interface TokenEvent {
  /** The text piece (the first argument). */
  text: string;
  /** The token that released this text (undefined for text released when generation ends). */
  id: number | undefined;
  /** Index of that token among the generated ones. */
  index: number;
  /** With `options.candidates`: the distribution the token was drawn from. */
  candidates?: Candidate[];
}

/** What `tinygpt info` prints, as an object. */
export interface ModelInfo {
  architecture: 'gpt2' | 'llama';
  dtype: 'f32' | 'q8';
  group_size: number;
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  head_size: number;
  vocab_size: number;
  seq_len: number;
  norm: string;
  norm_eps: number;
  activation: string;
  position: string;
  rope_theta: number;
  tied_embeddings: boolean;
  bias: boolean;
  model_bytes: number;
  weight_bytes: number;
  tokenizer: {
    kind: 'none' | 'byte_level_bpe' | 'sentencepiece_bpe';
    /** Tokens with an entry in the tokenizer (at most the model's vocab_size). */
    vocab_size: number;
    bos_id: number | null;
    eos_id: number | null;
    add_bos: boolean;
  };
  tokenizer_bytes: number;
  state_bytes: number;
  state_bytes_f16_kv: number;
}

export interface BenchResult {
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

/**
 * A loaded model with its own workspace. Every bad argument throws an `Error` and leaves
 * the instance usable. One generation (or distribution, or benchmark) runs at a time per
 * instance; another call meanwhile throws.
 */
export declare class TinyGpt {
  private constructor();
  /** The built-in model (the one `tinygpt` runs without `-m`). */
  static builtin(): Promise<TinyGpt>;
  /** Loads a `.tgpt` model file's bytes (validated; throws an Error saying what is wrong). */
  static load(bytes: Uint8Array | ArrayBuffer): Promise<TinyGpt>;
  /**
   * The int8 kernel set of the wasm build in use: `"simd128-relaxed"` where the engine runs
   * relaxed SIMD as specified, else `"simd128"` (same results; override with
   * `TINYGPT_WASM=simd128|relaxed` in Node or `globalThis.TINYGPT_WASM` elsewhere).
   */
  static kernels(): Promise<'simd128' | 'simd128-relaxed'>;

  /** Generates a continuation of `prompt`, calling `onToken(piece)` with each text piece as it is produced. */
  generate(
    prompt: string,
    options?: GenerateOptions,
    onToken?: (piece: string, event: TokenEvent) => void,
  ): Promise<GenerateResult>;
  /** The same generation as an async iterator of text pieces; its return value is the GenerateResult. */
  stream(prompt: string, options?: GenerateOptions): AsyncGenerator<string, GenerateResult, void>;

  /** Text -> token ids (BOS first when the model's tokenizer adds one). */
  encode(text: string): number[];
  /** Token ids -> text (special tokens skipped). */
  decode(ids: ArrayLike<number>): string;
  /** The same object as `tinygpt info` prints. */
  info(): ModelInfo;
  /** The most likely next tokens after a prompt (text, or token ids), and which of them the sampler keeps. */
  nextTokenDistribution(promptOrIds: string | ArrayLike<number>, options?: DistributionOptions): Candidate[];
  /** Decode speed over `n` steps with fixed token ids (works without a tokenizer). Default n = 128. */
  benchDecode(n?: number): BenchResult;
  /** Frees the model's memory now (otherwise the garbage collector does). */
  free(): void;
}

/** The generation defaults (those of `tinygpt generate`). */
export declare const DEFAULTS: Readonly<Required<Omit<GenerateOptions, 'signal' | 'candidates' | 'stop'>> & { stop: readonly string[] }>;

export default TinyGpt;
