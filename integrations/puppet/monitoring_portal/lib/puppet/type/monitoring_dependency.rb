# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_dependency) do
  @doc = <<~DOC
    A host or service dependency (Naemon's `hostdependency` / `servicedependency`): the dependent
    is not checked, or does not notify, while its master is in the failure criteria's states.

    The portal addresses dependencies by id; a resource is identified by its dependent and its
    master (`host` and `master_host`, plus `service` and `master_service` for a service
    dependency), found with the API's filters. The title is a label of your choice. Only the
    properties you set are managed. Autorequires the hosts' and services' resources.

        monitoring_dependency { 'web-01 needs db-01':
          host                          => 'web-01',
          master_host                   => 'db-01',
          notification_failure_criteria => 'd,u',
        }
        monitoring_dependency { 'web-01/HTTP needs db-01/PostgreSQL':
          host                          => 'web-01',
          service                       => 'HTTP',
          master_host                   => 'db-01',
          master_service                => 'PostgreSQL',
          notification_failure_criteria => 'w,c,u',
        }
  DOC

  ensurable do
    desc 'present or absent.'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc 'A label; the dependency is identified by host, service, master_host and master_service.'
  end

  newparam(:host) { desc 'The dependent host (of the dependent service, if any).' }
  newparam(:service) { desc "The dependent service's description; left out, a host dependency." }
  newparam(:master_host) { desc 'The master host (default: host, for a service dependency).' }
  newparam(:master_service) { desc "The master service's description (with service)." }

  helpers = PuppetX::MonitoringPortal::TypeHelpers
  helpers.connection_parameters(self)
  helpers.bool(self, :inherits_parent, 'Also depend on what the master depends on.')
  helpers.string(
    self, :execution_failure_criteria,
    'Master states in which the dependent is not checked: letters of o,d,u,p (hosts), o,w,u,c,p (services), n: never.'
  )
  helpers.string(
    self, :notification_failure_criteria,
    'Master states in which the dependent does not notify: letters as for execution_failure_criteria.'
  )
  helpers.string(self, :dependency_period, "Time period in which it applies ('' for always).")

  validate do
    raise ArgumentError, "monitoring_dependency #{self[:name]}: set host" if self[:host].to_s.empty?
    if self[:service].to_s.empty?
      raise ArgumentError, "monitoring_dependency #{self[:name]}: set master_host" if self[:master_host].to_s.empty?
      raise ArgumentError, "monitoring_dependency #{self[:name]}: master_service needs service" unless self[:master_service].to_s.empty?
    elsif self[:master_service].to_s.empty?
      raise ArgumentError, "monitoring_dependency #{self[:name]}: a service dependency needs master_service"
    end
  end

  autorequire(:monitoring_host) { [self[:host], self[:master_host]].compact }
  autorequire(:monitoring_service) do
    next [] if self[:service].to_s.empty?
    ["#{self[:host]}/#{self[:service]}", "#{self[:master_host] || self[:host]}/#{self[:master_service]}"]
  end
end
