# Usage: ./build.ps1 [--target=Native|Generate|Build|Test|Bench|Pack|PublicApi|Run] [other Cake arguments]
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
dotnet tool restore | Out-Null
dotnet cake build/build.cake @args
exit $LASTEXITCODE
