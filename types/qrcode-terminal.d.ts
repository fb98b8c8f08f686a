// qrcode-terminal 0.12.0 ships no types; only the call mcpauthd makes.
declare module 'qrcode-terminal' {
  const qrcode: {
    /** Calls `done` synchronously with the QR code as text (`small`: half-height block characters). */
    generate(input: string, options: { small?: boolean }, done: (text: string) => void): void;
  };
  export default qrcode;
}
