using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PjSharp.Testing.Sipp;

/// <summary>
/// A throwaway PKI for TLS tests: a self-signed CA, a server certificate for localhost, 127.0.0.1
/// and ::1, and a client certificate, written as PEM files to a temporary directory that Dispose deletes.
/// </summary>
public sealed class TlsTestCertificate : IDisposable
{
    private readonly bool _ownsDirectory;

    private TlsTestCertificate(string directory, bool ownsDirectory, X509Certificate2 authority, X509Certificate2 server, X509Certificate2 client)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
        Authority = authority;
        Server = server;
        Client = client;
    }

    public string Directory { get; }

    /// <summary>The CA certificate (PEM): pass as --tls-ca, and trust it in clients.</summary>
    public string AuthorityFile => Path.Combine(Directory, "ca.pem");

    /// <summary>Server certificate (PEM), signed by the CA.</summary>
    public string ServerCertificateFile => Path.Combine(Directory, "server.pem");

    /// <summary>Server private key (PKCS#8 PEM).</summary>
    public string ServerKeyFile => Path.Combine(Directory, "server.key");

    /// <summary>Client certificate (PEM), signed by the CA, for servers that verify clients.</summary>
    public string ClientCertificateFile => Path.Combine(Directory, "client.pem");

    public string ClientKeyFile => Path.Combine(Directory, "client.key");

    /// <summary>The CA, public part only.</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The server certificate with its private key.</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The client certificate with its private key.</summary>
    public X509Certificate2 Client { get; }

    /// <summary>Creates the certificates and writes them to <paramref name="directory"/> (a new temporary one by default).</summary>
    public static TlsTestCertificate Create(string? directory = null)
    {
        var owns = directory == null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("pjsharp-tls-").FullName;
        System.IO.Directory.CreateDirectory(directory);

        // Back-dated so a clock a little behind still accepts them; short-lived on purpose.
        var notBefore = DateTimeOffset.UtcNow.AddHours(-1);
        var notAfter = DateTimeOffset.UtcNow.AddDays(2);

        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=PjSharp Test CA, O=PjSharp tests", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var caWithKey = caRequest.CreateSelfSigned(notBefore, notAfter.AddDays(1));

        var server = Issue(caWithKey, "CN=localhost, O=PjSharp tests", notBefore, notAfter, out var serverKey);
        var client = Issue(caWithKey, "CN=pjsharp-test-client, O=PjSharp tests", notBefore, notAfter, out var clientKey);
        using (serverKey)
        using (clientKey)
        {
            File.WriteAllText(Path.Combine(directory, "ca.pem"), caWithKey.ExportCertificatePem() + "\n");
            File.WriteAllText(Path.Combine(directory, "ca.key"), caKey.ExportPkcs8PrivateKeyPem() + "\n");
            File.WriteAllText(Path.Combine(directory, "server.pem"), server.ExportCertificatePem() + "\n");
            File.WriteAllText(Path.Combine(directory, "server.key"), serverKey.ExportPkcs8PrivateKeyPem() + "\n");
            File.WriteAllText(Path.Combine(directory, "client.pem"), client.ExportCertificatePem() + "\n");
            File.WriteAllText(Path.Combine(directory, "client.key"), clientKey.ExportPkcs8PrivateKeyPem() + "\n");
        }
        var authority = X509CertificateLoader.LoadCertificate(caWithKey.RawData);
        return new TlsTestCertificate(directory, owns, authority, server, client);
    }

    /// <summary>A chain policy that trusts only this CA, for SslStream clients.</summary>
    public X509ChainPolicy ChainPolicy()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(Authority);
        return policy;
    }

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
        Client.Dispose();
        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, string subject, DateTimeOffset notBefore, DateTimeOffset notAfter, out RSA key)
    {
        key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "serverAuth"), new Oid("1.3.6.1.5.5.7.3.2", "clientAuth")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(issuer, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }
}
