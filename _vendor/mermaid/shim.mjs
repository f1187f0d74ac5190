export default globalThis.mermaid;
