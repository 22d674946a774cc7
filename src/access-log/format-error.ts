// Any thread (pure). The one error the substitution-format compiler throws. The config compiler turns it into a
// config problem at the field that holds the format; route compilers do the same for header values.

export type FormatErrorCode =
  /** %NAME% is not an Envoy command operator. */
  | 'unknown_operator'
  /** An Envoy command operator Legate does not implement yet. */
  | 'operator_not_supported'
  /** The format string or an operator's argument is malformed (bad %, missing parenthesis, bad length...). */
  | 'bad_syntax'
  /** A json_format value of a kind Envoy does not accept (null). */
  | 'bad_json_format';

export class FormatError extends Error {
  readonly code: FormatErrorCode;
  /** The command operator concerned (e.g. "REQ"), or '' for errors outside an operator. */
  readonly operator: string;

  constructor(code: FormatErrorCode, operator: string, message: string) {
    super(message);
    this.name = 'FormatError';
    this.code = code;
    this.operator = operator;
  }
}
