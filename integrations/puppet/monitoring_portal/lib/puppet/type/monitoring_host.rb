# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_host) do
  @doc = <<~DOC
    A host monitored by Naemon, declared in the monitoring portal through its REST API.

    The portal renders it into Naemon config, verifies that config and reloads the nodes; with
    `wait => true` (the default) a change returns when the nodes have confirmed it, and a refused
    deployment fails the resource with the verifier's output.

    Only the properties you set are managed; the others are left as they are in the portal.
    A second `puppet apply` changes nothing. The host's `alias` is `host_alias` here, because
    `alias` is a Puppet metaparameter.

        monitoring_host { 'web-01':
          ensure           => present,
          address          => '192.0.2.10',
          team             => 'web',
          templates        => ['linux-server'],
          hostgroups       => ['web'],
          custom_variables => { '_RACK' => 'B12' },
        }
  DOC

  ensurable do
    desc 'present or absent (removes the host and its services).'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc "The host's name in Naemon (no white space, none of `~!$%^&*|'\"<>?,()=;)."
    validate { |value| raise ArgumentError, 'the host name must not be empty' if value.to_s.empty? }
  end

  PuppetX::MonitoringPortal::TypeHelpers.connection_parameters(self)

  PuppetX::MonitoringPortal::TypeHelpers.string(self, :address, "The host's address (name or IP) that checks use.")
  PuppetX::MonitoringPortal::TypeHelpers.string(self, :host_alias, "The host's alias: a longer display name.")
  PuppetX::MonitoringPortal::TypeHelpers.string(
    self, :team, 'The owning team. Without staff rights the host must belong to one of your teams.'
  )
  PuppetX::MonitoringPortal::TypeHelpers.list(self, :templates, 'Host templates; the first listed wins')
  PuppetX::MonitoringPortal::TypeHelpers.set(self, :hostgroups, 'Host groups')
  PuppetX::MonitoringPortal::TypeHelpers.set(self, :parents, 'Parent hosts')
  PuppetX::MonitoringPortal::TypeHelpers.check_settings(self)

  newparam(:adopt, boolean: true) do
    desc <<~DOC
      Register a host that a Naemon node already monitors outside the portal (the site's own
      config files); without it the portal refuses such a name with an error naming the node.
      Needs a staff token. Only sent when the host is created: once it is in the portal, it
      changes nothing. Then remove the site's own definition from that node (until then the
      node's verifier refuses the duplicate).
    DOC
    newvalues(:true, :false)
    defaultto :false
  end

  newproperty(:lease_seconds) do
    desc <<~DOC
      Makes the host short-lived: the portal removes it when the lease runs out. A run renews the
      lease when less than half of it is left (so frequent runs report no change); 0 removes it.
    DOC
    validate { |value| raise ArgumentError, 'lease_seconds must be a whole number' unless value.to_s =~ %r{\A\d+\z} }
    munge { |value| Integer(value) }

    def insync?(is)
      return is == :absent if should.zero?
      is != :absent && is >= should / 2
    end
  end
end
