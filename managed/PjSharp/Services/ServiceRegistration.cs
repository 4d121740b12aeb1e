using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PjSharp.Diagnostics;
using PjSharp.Interop;

namespace PjSharp.Services;

/// <summary>A service registered with pjsip: its module slot and the GCHandle pjsip hands back.</summary>
internal sealed unsafe class ServiceRegistration : IDisposable
{
    private static int s_dispatchInstalled;
    private GCHandle _self;

    private ServiceRegistration(SipEndpoint endpoint, SipService service)
    {
        Endpoint = endpoint;
        Service = service;
    }

    public SipEndpoint Endpoint { get; }

    public SipService Service { get; }

    public pjsip_module* Module { get; private set; }

    public static ServiceRegistration Register(SipEndpoint endpoint, SipService service)
    {
        InstallDispatch();
        var registration = new ServiceRegistration(endpoint, service);
        registration._self = GCHandle.Alloc(registration);
        var flags = PjSharpNative.ModuleRxRequest | (service.HandlesResponses ? PjSharpNative.ModuleRxResponse : 0)
            | (service.HandlesOutgoing ? PjSharpNative.ModuleTxRequest | PjSharpNative.ModuleTxResponse : 0)
            | (service.HandlesTransactionStates ? PjSharpNative.ModuleTsxState : 0);
        var name = PjStr.NulTerminated(service.Name);
        fixed (byte* namePointer = name)
            registration.Module = PjSharpNative.pjsharp_module_create(namePointer, service.Priority, (void*)GCHandle.ToIntPtr(registration._self), flags);
        if (registration.Module == null)
        {
            registration._self.Free();
            throw new InvalidOperationException($"Cannot register service '{service.Name}': all {PjSharpNative.pjsharp_module_capacity()} service slots are in use.");
        }
        var status = PjsipSipEndpoint.pjsip_endpt_register_module(endpoint.Native, registration.Module);
        if (status != ThrowHelper.Success)
        {
            PjSharpNative.pjsharp_module_destroy(registration.Module);
            registration._self.Free();
            ThrowHelper.Throw(status, $"registering service '{service.Name}'");
        }
        service.ModuleId = registration.Module->id;
        service.NativeModule = registration.Module;
        return registration;
    }

    public void Dispose()
    {
        if (Module == null)
            return;
        _ = PjsipSipEndpoint.pjsip_endpt_unregister_module(Endpoint.Native, Module);
        Service.ModuleId = -1;
        Service.NativeModule = null;
        PjSharpNative.pjsharp_module_destroy(Module);
        Module = null;
        _self.Free();
    }

    private static void InstallDispatch()
    {
        if (Interlocked.Exchange(ref s_dispatchInstalled, 1) != 0)
            return;
        PjSharpNative.ModuleDispatch dispatch = default;
        dispatch.OnRxRequest = &OnRxRequest;
        dispatch.OnRxResponse = &OnRxResponse;
        dispatch.OnTxRequest = &OnTx;
        dispatch.OnTxResponse = &OnTx;
        dispatch.OnTsxState = &OnTsxState;
        PjSharpNative.pjsharp_module_set_dispatch(&dispatch);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnRxRequest(void* context, pjsip_rx_data* rdata)
    {
        var registration = (ServiceRegistration)GCHandle.FromIntPtr((nint)context).Target!;
        try
        {
            return registration.Service.OnRequest(new SipRequest(registration.Endpoint, rdata, registration.Module)) ? 1 : 0;
        }
#pragma warning disable CA1031 // The firewall: nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            registration.Endpoint.Logs.ServiceFailed(exception, registration.Service.Name);
            SipRequest.AnswerAfterFailure(registration.Endpoint, rdata);
            return 1;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnRxResponse(void* context, pjsip_rx_data* rdata)
    {
        var registration = (ServiceRegistration)GCHandle.FromIntPtr((nint)context).Target!;
        try
        {
            return registration.Service.OnResponse(new SipResponse(rdata)) ? 1 : 0;
        }
#pragma warning disable CA1031 // The firewall: nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            registration.Endpoint.Logs.ServiceFailed(exception, registration.Service.Name);
            return 1;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnTx(void* context, pjsip_tx_data* tdata)
    {
        var registration = (ServiceRegistration)GCHandle.FromIntPtr((nint)context).Target!;
        try
        {
            registration.Service.OnSending(new SipOutgoingMessage(tdata));
        }
#pragma warning disable CA1031 // The firewall: nothing may unwind into pjsip; the message still goes out.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            registration.Endpoint.Logs.ServiceFailed(exception, registration.Service.Name);
        }
        return ThrowHelper.Success;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnTsxState(void* context, pjsip_transaction* tsx, pjsip_event* e)
    {
        // A transaction outlives the service that made it (Timer K after the final response): its slot has no context then.
        if (context == null)
            return;
        var registration = (ServiceRegistration)GCHandle.FromIntPtr((nint)context).Target!;
        try
        {
            registration.Service.OnTransactionState(tsx, e);
        }
#pragma warning disable CA1031 // The firewall: nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            registration.Endpoint.Logs.ServiceFailed(exception, registration.Service.Name);
        }
    }
}
