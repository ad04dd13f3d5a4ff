import QRCode from "qrcode";

/** The config as an SVG QR code, for the WireGuard mobile apps' "scan from QR code". */
export function configQrSvg(config: string): Promise<string> {
  return QRCode.toString(config, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
}
